"""Attribution tests."""
