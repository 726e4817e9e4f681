//! Reads and validates devices.yaml inventories (netmiko-style entries, groups, defaults, secret references) into device targets.
