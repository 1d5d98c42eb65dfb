# Warnings for the project's own targets; dependencies are SYSTEM includes.
option(LIENTHONG_WERROR "Treat warnings as errors" OFF)
add_library(lienthong_warnings INTERFACE)
target_compile_options(lienthong_warnings INTERFACE
  -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor -Wold-style-cast
  -Wcast-align -Woverloaded-virtual -Wnull-dereference -Wimplicit-fallthrough
  $<$<BOOL:${LIENTHONG_WERROR}>:-Werror>)
