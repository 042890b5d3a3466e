from hongyan.cli import main

main()
