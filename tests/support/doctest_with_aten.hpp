// doctest for test files that use ATen. ATen pulls in glog, whose CHECK, CHECK_EQ, ... macros
// would replace doctest's (an assertion that aborts, is never counted and says little).
// Including ATen first and doctest last makes doctest's definitions the ones in force.
#pragma once
#include <ATen/ATen.h>

#undef CHECK
#undef CHECK_EQ
#undef CHECK_NE
#undef CHECK_LT
#undef CHECK_LE
#undef CHECK_GT
#undef CHECK_GE

#include <doctest/doctest.h>
