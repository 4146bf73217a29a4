// The shared library libophtha.so is every component linked whole; this translation unit only
// gives the target a source of its own. What it exports is decided by src/capi/libophtha.map:
// the C ABI (ophtha_*) and the C++ API in namespace ophtha, nothing else (docs/c-api.md).
