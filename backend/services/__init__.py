"""Services hold the rules (triage, SLA, claims, signatures); routes stay thin."""
