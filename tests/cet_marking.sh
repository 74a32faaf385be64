#!/bin/sh
# cet_marking.sh READELF FEATURE OBJECT... - every object carries the GNU
# property FEATURE (IBT or BTI) and none claims SHSTK. See packaging.cmake.
readelf=$1 want=$2
shift 2
fail=0
for o in "$@"; do
    notes=$("$readelf" -n "$o") || { echo "$o: readelf failed"; fail=1; continue; }
    echo "$notes" | grep -q "feature:.*$want" || { echo "$o: no $want property"; fail=1; }
    if echo "$notes" | grep -q SHSTK; then echo "$o: claims SHSTK"; fail=1; fi
done
[ $fail -eq 0 ] && echo "ok: $# objects marked $want, none SHSTK"
exit $fail
