"""Pure core: entities, validation rules and search grammar. No IO, no SQL, no HTTP."""
