# ASan + UBSan for the whole build (tests included).
option(LIENTHONG_SANITIZE "Build with AddressSanitizer and UndefinedBehaviorSanitizer" OFF)
if(LIENTHONG_SANITIZE)
  add_compile_options(-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
  add_link_options(-fsanitize=address,undefined)
endif()
if(LIENTHONG_SANITIZE)
  # GCC 12 reports false "maybe uninitialized" inside libstdc++ (std::regex, std::function)
  # when ASan instrumentation is on; the plain build keeps the warning.
  target_compile_options(lienthong_warnings INTERFACE -Wno-maybe-uninitialized)
endif()
