from console.entry import main

main()
