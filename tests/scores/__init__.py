"""Person-score tests."""
