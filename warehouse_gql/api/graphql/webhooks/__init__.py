"""Webhooks: endpoints that receive signed POSTs of warehouse events, and their delivery logs."""
