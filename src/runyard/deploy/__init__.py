"""Putting runyard into production: PostgreSQL provisioning, the systemd unit, ``runyard doctor``.

Sits beside ``runyard.app`` in the layers: it may use services, store and artifacts, never the
HTTP layer. The command line (``runyard.cli``) wires these to flags.
"""
