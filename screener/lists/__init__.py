"""Lists: the bundled list file, the citation builder, official-list importers and the versioned catalog."""
