# ASan + UBSan for the whole build (tests included).
option(LIENTHONG_SANITIZE "Build with AddressSanitizer and UndefinedBehaviorSanitizer" OFF)
if(LIENTHONG_SANITIZE)
  add_compile_options(-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
  add_link_options(-fsanitize=address,undefined)
endif()
