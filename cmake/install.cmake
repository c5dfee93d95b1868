# `cmake --install build --prefix P` (README, "Install"): bin/laperm, lib/liblaperm.a and
# liblaperm.so, include/laperm/, lib/pkgconfig/laperm.pc, lib/cmake/laperm/ (the CMake
# package), share/laperm/models/, share/man/man1/laperm.1 and the bash completion. The
# kernels are embedded in the library: nothing else is read from the source tree.
include(CMakePackageConfigHelpers)
set(LP_MODELS_DIR ${CMAKE_INSTALL_DATADIR}/laperm/models)
set(LP_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/laperm)

set_target_properties(laperm PROPERTIES EXPORT_NAME laperm_static)
set_target_properties(laperm_shared PROPERTIES EXPORT_NAME laperm)
install(TARGETS laperm_cli RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(TARGETS laperm laperm_shared EXPORT laperm-targets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR})
install(DIRECTORY ${CMAKE_SOURCE_DIR}/include/laperm DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(EXPORT laperm-targets NAMESPACE laperm:: DESTINATION ${LP_CMAKE_DIR})
configure_package_config_file(${CMAKE_SOURCE_DIR}/cmake/laperm-config.cmake.in
                              ${CMAKE_BINARY_DIR}/laperm-config.cmake
                              INSTALL_DESTINATION ${LP_CMAKE_DIR} PATH_VARS LP_MODELS_DIR)
write_basic_package_version_file(${CMAKE_BINARY_DIR}/laperm-config-version.cmake
                                 COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_BINARY_DIR}/laperm-config.cmake ${CMAKE_BINARY_DIR}/laperm-config-version.cmake
        DESTINATION ${LP_CMAKE_DIR})

# pkg-config: the dependencies by their own .pc files where pkg-config knows them, else
# by the library file CMake found. liblaperm itself needs libm besides them (not
# pthread: its one thread-local is _Thread_local).
find_package(PkgConfig QUIET)
set(LP_PC_REQUIRES_PRIVATE "")
set(LP_PC_LIBS_PRIVATE "-lm")
foreach(dep "clblast;CLBlast" "hdf5;${HDF5_C_LIBRARY_hdf5}" "zlib;${ZLIB_LIBRARIES}"
            "clFFT;clFFT" "mpi-c;-lmpi")
  list(GET dep 0 module)
  list(GET dep 1 fallback)
  if((module STREQUAL "clFFT" AND NOT clFFT_FOUND) OR (module STREQUAL "mpi-c" AND NOT MPI_C_FOUND))
    continue()
  endif()
  set(found FALSE)
  if(PKG_CONFIG_FOUND)
    pkg_check_modules(LP_PC_${module} QUIET ${module})
    set(found ${LP_PC_${module}_FOUND})
  endif()
  if(found)
    string(APPEND LP_PC_REQUIRES_PRIVATE " ${module}")
  elseif(TARGET ${fallback})
    string(APPEND LP_PC_LIBS_PRIVATE " $<TARGET_LINKER_FILE:${fallback}>")
  else()
    string(APPEND LP_PC_LIBS_PRIVATE " ${fallback}")
  endif()
endforeach()
string(STRIP "${LP_PC_REQUIRES_PRIVATE}" LP_PC_REQUIRES_PRIVATE)
file(RELATIVE_PATH LP_PC_UP ${CMAKE_INSTALL_FULL_LIBDIR}/pkgconfig ${CMAKE_INSTALL_PREFIX})
string(REGEX REPLACE "/$" "" LP_PC_UP "${LP_PC_UP}")
configure_file(${CMAKE_SOURCE_DIR}/cmake/laperm.pc.in ${CMAKE_BINARY_DIR}/laperm.pc.in @ONLY)
file(GENERATE OUTPUT ${CMAKE_BINARY_DIR}/laperm.pc INPUT ${CMAKE_BINARY_DIR}/laperm.pc.in)
install(FILES ${CMAKE_BINARY_DIR}/laperm.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)

install(DIRECTORY ${CMAKE_SOURCE_DIR}/models/ DESTINATION ${LP_MODELS_DIR}
        FILES_MATCHING PATTERN "*.ini")

# The man page and the bash completion, generated from the built program's --help texts
# (scripts/make-cli-docs), so every new command and flag is in them. Needs Python 3.
find_package(Python3 COMPONENTS Interpreter QUIET)
if(Python3_Interpreter_FOUND)
  set(LP_MAN ${CMAKE_BINARY_DIR}/laperm.1)
  set(LP_COMPLETION ${CMAKE_BINARY_DIR}/laperm.bash-completion)
  add_custom_command(
    OUTPUT ${LP_MAN} ${LP_COMPLETION}
    COMMAND ${Python3_EXECUTABLE} ${CMAKE_SOURCE_DIR}/scripts/make-cli-docs
            $<TARGET_FILE:laperm_cli> --man ${LP_MAN} --bash-completion ${LP_COMPLETION}
    DEPENDS laperm_cli ${CMAKE_SOURCE_DIR}/scripts/make-cli-docs
    COMMENT "Generating the man page and bash completion from laperm's --help"
    VERBATIM)
  add_custom_target(laperm_cli_docs ALL DEPENDS ${LP_MAN} ${LP_COMPLETION})
  install(FILES ${LP_MAN} DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)
  install(FILES ${LP_COMPLETION} DESTINATION ${CMAKE_INSTALL_DATADIR}/bash-completion/completions
          RENAME laperm)
  message(STATUS "laperm: man page and bash completion: generated with ${Python3_EXECUTABLE}")
else()
  message(STATUS "laperm: Python 3: not found, no man page or bash completion is installed")
endif()
