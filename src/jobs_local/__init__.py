"""The local stack: the real handlers on moto, with every resource built from template.yaml."""
