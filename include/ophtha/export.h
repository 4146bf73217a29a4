/* OPHTHA_API marks the symbols the shared library exports; everything else is hidden. */
#ifndef OPHTHA_EXPORT_H
#define OPHTHA_EXPORT_H
#if defined(_WIN32)
#  if defined(OPHTHA_BUILDING)
#    define OPHTHA_API __declspec(dllexport)
#  else
#    define OPHTHA_API __declspec(dllimport)
#  endif
#else
#  define OPHTHA_API __attribute__((visibility("default")))
#endif
#endif
