from clameur.cli import main

main()
