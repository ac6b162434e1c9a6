"""The protocol core: clients, codes, tokens, grants, keys and claims, over Authlib."""
