"""Built-in objectives. Each module registers its objectives when imported."""
