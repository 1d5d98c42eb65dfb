find_package(Threads REQUIRED)
find_package(Poco 1.11 REQUIRED COMPONENTS Foundation Net NetSSL Util JSON Crypto)
find_package(yaml-cpp REQUIRED)
if(NOT TARGET yaml-cpp::yaml-cpp)
  add_library(yaml-cpp::yaml-cpp ALIAS yaml-cpp)
endif()
find_package(LibXml2 REQUIRED)
find_package(LibXslt REQUIRED)
find_package(ICU REQUIRED COMPONENTS uc)
find_package(OpenSSL REQUIRED)
find_package(SQLite3 REQUIRED)
# Qpid Proton C++: Debian ships no CMake package and an unusable .pc file.
find_path(PROTON_CPP_INCLUDE_DIR proton/container.hpp REQUIRED)
find_library(PROTON_CPP_LIBRARY qpid-proton-cpp REQUIRED)
find_library(PROTON_C_LIBRARY qpid-proton REQUIRED)
add_library(Proton::cpp UNKNOWN IMPORTED)
set_target_properties(Proton::cpp PROPERTIES
  IMPORTED_LOCATION ${PROTON_CPP_LIBRARY}
  INTERFACE_SYSTEM_INCLUDE_DIRECTORIES ${PROTON_CPP_INCLUDE_DIR}
  INTERFACE_LINK_LIBRARIES ${PROTON_C_LIBRARY})
find_package(PkgConfig REQUIRED)
# xmlsec1 with its OpenSSL back end; its defines (XMLSEC_NO_SIZE_T, ...) change struct
# layouts, so every user gets them through the imported target.
pkg_check_modules(XMLSEC REQUIRED IMPORTED_TARGET xmlsec1-openssl)
if(LIENTHONG_BUILD_TESTS)
  find_package(GTest REQUIRED)
endif()
# libpq, for the shared store of cluster mode (store: { postgresql: ... }).
pkg_check_modules(LIBPQ REQUIRED IMPORTED_TARGET libpq)
