"""Discrepancy rules (CONTRACT §5): one module per flag code, each with RULE_VERSION and detect."""
