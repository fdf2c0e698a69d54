from model.training.train import main

main()
