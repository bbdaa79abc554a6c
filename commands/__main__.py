from commands.main import main

main()
