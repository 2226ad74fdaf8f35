"""The ravine.optim tests share optim_helpers.py (imported by name: this folder is on sys.path)."""
