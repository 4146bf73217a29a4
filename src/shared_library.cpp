// The shared library libophtha.so is ophtha_core linked whole; this translation unit only
// gives the target a source of its own. Only OPHTHA_API symbols are visible outside it.
