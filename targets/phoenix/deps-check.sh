#!/bin/sh
# The deps check of target.yaml's `requires`: exit 0 when every package that
# mix.lock pins has been fetched into deps/; otherwise exit 1 and print, on one
# line, how many are missing and which (the harness adds that line to the skip
# reason), so partial deps give a skip rather than a failed build.
#
# It reads mix.lock and looks at deps/ only: no mix, no network, nothing that
# could try to fetch. A hex package counts as fetched when deps/<name>/.hex
# exists: Hex writes it after unpacking the package, and mix reads it to match
# the package against the lock (without it `mix release` stops and asks for
# `mix deps.get`). Any other kind of entry (git, path) counts when its folder
# exists.
set -eu

# One "name scm" line per entry of mix.lock, e.g. `bandit hex`.
entries=$(sed -n 's/^ *"\([A-Za-z0-9_]*\)": *{:\([a-z]*\),.*/\1 \2/p' mix.lock)
if [ -z "$entries" ]; then
    echo "mix.lock lists no dependency"
    exit 1
fi

total=0 missing=""
while read -r name scm; do
    total=$((total + 1))
    if [ "$scm" = hex ]; then
        [ -f "deps/$name/.hex" ] && continue
    else
        [ -d "deps/$name" ] && continue
    fi
    missing="$missing $name"
done <<END
$entries
END

set -- $missing
[ $# -eq 0 ] && exit 0

# A few names, then a count, so the reason stays one readable line ("and 1
# more" would take as much room as the name).
n=$# named=$1
shift
while [ $# -gt 0 ] && { [ $n -le 4 ] || [ $((n - $#)) -lt 3 ]; }; do
    named="$named, $1"
    shift
done
[ $# -gt 0 ] && named="$named and $# more"
if [ $n -eq $total ]; then
    echo "all $total packages in mix.lock are missing: $named"
elif [ $n -eq 1 ]; then
    echo "1 of the $total packages in mix.lock is missing: $named"
else
    echo "$n of the $total packages in mix.lock are missing: $named"
fi
exit 1
