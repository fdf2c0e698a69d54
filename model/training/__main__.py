from model.training.cli import main

main()
