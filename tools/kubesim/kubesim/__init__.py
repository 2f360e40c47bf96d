"""kubesim: a Kubernetes API-server emulator for stowage's tests."""
