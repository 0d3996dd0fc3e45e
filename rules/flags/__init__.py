"""Discrepancy rules (CONTRACT §5): one module per flag code, each with a RULE_VERSION and detect()."""
