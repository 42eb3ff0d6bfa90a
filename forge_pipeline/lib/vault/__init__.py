"""Reading the vault: walking it, parsing notes, the notes table, templates."""
