"""Screens of the supervisor console: the queue, a case, the help and the decision dialogs."""
