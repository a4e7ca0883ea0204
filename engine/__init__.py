"""crmc engine: load → validate → compile → evaluate → record, for client-management policies."""
