"""``python -m loomis_train CONFIG.yaml`` (what ``torchrun`` / ``deepspeed`` launch)."""

from loomis_train.cli import main

main()
