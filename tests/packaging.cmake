# tests/packaging.cmake - tests of how hive is shipped and how it runs under
# valgrind. Included (OPTIONAL) at the end of tests/CMakeLists.txt.
#
#   test_packaging      (label unit) installs this build into a temporary
#                       prefix and builds tests/consumer/ against it through
#                       find_package(hive) and pkg-config; checks libhive.so
#                       exports only hive_*. See tests/consumer/run.sh.
#   valgrind_<test>     (label valgrind, `make test-valgrind`) a second run of
#                       some unit tests under memcheck, sized down by
#                       HIVE_TEST_SCALE=100. Memcheck errors and definite
#                       leaks fail the test (exit code 99).
#
# Neither exists in sanitizer builds: the sanitizer runtimes cannot be loaded
# by a plain consumer, and ASan/TSan cannot run under valgrind.
if(HIVE_ASAN OR HIVE_TSAN)
  return()
endif()

# ---- packaging ---------------------------------------------------------------
find_program(HIVE_NM nm)
if(HIVE_NM AND CMAKE_C_COMPILER_ID MATCHES "GNU|Clang")
  add_test(NAME test_packaging
    COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/consumer/run.sh ${CMAKE_BINARY_DIR} ${CMAKE_C_COMPILER})
  set_tests_properties(test_packaging PROPERTIES LABELS unit TIMEOUT 300)
endif()

# ---- CET / BTI marking ---------------------------------------------------------
# The context switch returns on another stack, which a hardware shadow stack
# refuses: each of hive's objects must say IBT (x86-64) or BTI (AArch64) when
# built with branch protection, and none may claim SHSTK, so a hardened
# program runs with shadow stacks off instead of crashing. (The linked
# libhive.so carries the property only when the toolchain's own start files
# do too, which Debian's do not; the objects are what hive controls.)
find_program(HIVE_READELF readelf)
if(HIVE_READELF AND (HIVE_HAVE_CF_PROTECTION OR HIVE_HAVE_BRANCH_PROTECTION))
  if(CMAKE_SYSTEM_PROCESSOR MATCHES "x86_64|AMD64")
    set(HIVE_CET_WANT "IBT")
  else()
    set(HIVE_CET_WANT "BTI")
  endif()
  add_test(NAME test_cet_marking
    COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/cet_marking.sh ${HIVE_READELF} ${HIVE_CET_WANT}
            $<TARGET_OBJECTS:hive_objs>
    COMMAND_EXPAND_LISTS)
  set_tests_properties(test_cet_marking PROPERTIES LABELS unit TIMEOUT 60)
endif()

# ---- valgrind ----------------------------------------------------------------
# Which tests: the ones whose code runs on fibers and worker threads without
# depending on wall-clock timing that valgrind's serialisation would distort.
find_program(HIVE_VALGRIND valgrind)
if(HIVE_VALGRIND)
  set(HIVE_VALGRIND_TESTS test_fiber test_deque test_inject test_sched test_park test_config
    test_process test_link)
  # --fair-sched=yes: valgrind runs one thread at a time; without it a thread
  # spinning on an atomic can starve the one it waits for.
  set(HIVE_VALGRIND_COMMAND ${HIVE_VALGRIND} --error-exitcode=99 --leak-check=full
    --errors-for-leak-kinds=definite --track-origins=no --fair-sched=yes)
  if(EXISTS ${CMAKE_CURRENT_SOURCE_DIR}/valgrind.supp)
    list(APPEND HIVE_VALGRIND_COMMAND --suppressions=${CMAKE_CURRENT_SOURCE_DIR}/valgrind.supp)
  endif()
  foreach(t ${HIVE_VALGRIND_TESTS})
    if(TARGET ${t})
      add_test(NAME valgrind_${t} COMMAND ${HIVE_VALGRIND_COMMAND} $<TARGET_FILE:${t}>)
      set_tests_properties(valgrind_${t} PROPERTIES LABELS valgrind TIMEOUT 900
        ENVIRONMENT HIVE_TEST_SCALE=100)
    endif()
  endforeach()
endif()
