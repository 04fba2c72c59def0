# Finds every third-party dependency once and gives each an imported target
# named dep::<name>. A missing one stops configuration with the Debian package
# to install (all are listed in third_party/debian-packages.txt; run
# scripts/bootstrap).
find_package(PkgConfig QUIET)
if(NOT PkgConfig_FOUND)
	message(FATAL_ERROR "pkg-config not found: apt-get install pkg-config (or run scripts/bootstrap)")
endif()

function(require_pkg target module package)
	pkg_check_modules(${target} QUIET IMPORTED_TARGET GLOBAL ${module})
	if(NOT ${target}_FOUND)
		message(FATAL_ERROR "${module} not found: apt-get install ${package} (or run scripts/bootstrap)")
	endif()
	add_library(dep::${target} ALIAS PkgConfig::${target})
endfunction()

# protobuf-c: library by pkg-config, generator by program.
require_pkg(protobuf_c libprotobuf-c libprotobuf-c-dev)
find_program(PROTOC_C protoc-c)
if(NOT PROTOC_C)
	message(FATAL_ERROR "protoc-c not found: apt-get install protobuf-c-compiler (or run scripts/bootstrap)")
endif()

# nng ships only a CMake config (no .pc file).
find_package(nng CONFIG QUIET)
if(NOT nng_FOUND)
	message(FATAL_ERROR "nng not found: apt-get install libnng-dev (or run scripts/bootstrap)")
endif()
add_library(dep::nng ALIAS nng::nng)

# mbedTLS 2.28, the TLS library libnng1 itself uses (libnng-dev depends on
# libmbedtls-dev): its X.509 and key parsers check the RPC_TLS_* files as nng
# will read them (lib/rpc/tls_files.c). Debian ships no .pc or CMake config.
find_path(MBEDTLS_INCLUDE_DIR mbedtls/x509_crt.h)
find_library(MBEDX509_LIBRARY mbedx509)
find_library(MBEDCRYPTO_LIBRARY mbedcrypto)
if(NOT MBEDTLS_INCLUDE_DIR OR NOT MBEDX509_LIBRARY OR NOT MBEDCRYPTO_LIBRARY)
	message(FATAL_ERROR "mbedTLS not found: apt-get install libmbedtls-dev (or run scripts/bootstrap)")
endif()
add_library(dep::mbedtls INTERFACE IMPORTED GLOBAL)
set_target_properties(dep::mbedtls PROPERTIES
	INTERFACE_LINK_LIBRARIES "${MBEDX509_LIBRARY};${MBEDCRYPTO_LIBRARY}"
	INTERFACE_INCLUDE_DIRECTORIES "${MBEDTLS_INCLUDE_DIR}")
# And its TLS itself (libmbedtls, also libnng1's), for what runs TLS on its
# own sockets: bench/tls_floor.c.
find_library(MBEDTLS_SSL_LIBRARY mbedtls)
if(NOT MBEDTLS_SSL_LIBRARY)
	message(FATAL_ERROR "mbedTLS's libmbedtls not found: apt-get install libmbedtls-dev (or run scripts/bootstrap)")
endif()
add_library(dep::mbedtls_ssl INTERFACE IMPORTED GLOBAL)
set_target_properties(dep::mbedtls_ssl PROPERTIES INTERFACE_LINK_LIBRARIES "${MBEDTLS_SSL_LIBRARY}")
target_link_libraries(dep::mbedtls_ssl INTERFACE dep::mbedtls)

require_pkg(hiredis hiredis libhiredis-dev)
require_pkg(rabbitmq librabbitmq librabbitmq-dev)
require_pkg(libpq libpq libpq-dev)
require_pkg(jansson jansson libjansson-dev)
# Unicode: white space, case folding and NFC (lib/base/utf8.c).
require_pkg(utf8proc libutf8proc libutf8proc-dev)

# CivetWeb's CMake config names /usr/bin/civetweb (a separate package), so
# find the library and header directly instead.
find_path(CIVETWEB_INCLUDE_DIR civetweb.h)
find_library(CIVETWEB_LIBRARY civetweb)
if(NOT CIVETWEB_INCLUDE_DIR OR NOT CIVETWEB_LIBRARY)
	message(FATAL_ERROR "CivetWeb not found: apt-get install libcivetweb-dev (or run scripts/bootstrap)")
endif()
add_library(dep::civetweb UNKNOWN IMPORTED GLOBAL)
set_target_properties(dep::civetweb PROPERTIES
	IMPORTED_LOCATION "${CIVETWEB_LIBRARY}"
	INTERFACE_INCLUDE_DIRECTORIES "${CIVETWEB_INCLUDE_DIR}")

if(BUILD_TESTS)
	require_pkg(criterion criterion libcriterion-dev)
	require_pkg(curl libcurl libcurl4-openssl-dev)
endif()

find_package(Threads REQUIRED)
