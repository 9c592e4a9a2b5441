from asrkit.cli import main

main()
