/* typed_send_wrong_type.c - must NOT compile: sending a struct other than the
 * subject's own type through hive_typed_send. ctest builds it and passes only
 * if the compiler refuses it (test_typed_subject_compile_fail). With
 * -DHIVE_EXPECT_OK the right type is sent instead, and it must compile: that
 * proves the failure is the type check, not a broken file. */
#include <hive/hive.h>

struct celsius { double deg; };
struct fahrenheit { double deg; };
typedef HIVE_SUBJECT_OF(struct celsius) celsius_subject_t;

int send_one(celsius_subject_t s)
{
#ifdef HIVE_EXPECT_OK
    struct celsius t = {21.5};
#else
    struct fahrenheit t = {70.7}; /* same layout, other type: refused */
#endif
    return hive_typed_send(s, &t);
}
