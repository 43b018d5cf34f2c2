"""Process plumbing shared by the adapters that start long-lived helper processes."""
