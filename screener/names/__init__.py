"""Names: normalise a name into tokens, and score an input name against a list's aliases."""
