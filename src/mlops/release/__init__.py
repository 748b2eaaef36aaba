"""Shipping a model: smoke-test a running service, promote a registry alias."""
