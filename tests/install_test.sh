#!/bin/sh
# `cmake --install` into a temporary prefix: every file where README "Install" says, the
# shared library's SONAME, then the README's example (tests/install/train5.c, the very
# file README quotes) copied out of the source tree and built three ways against the
# installed package: `pkg-config --cflags --libs laperm` (shared), `pkg-config --static`
# with liblaperm.a, and CMake's find_package(laperm). Each build must train 5 steps. The
# installed program finds a model by name in its share/laperm/models, the man page has
# every command, the bash completion completes a flag.
# usage: tests/install_test.sh BUILD_DIR (run from the source tree; ctest "install")
set -eu
build=${1:?usage: tests/install_test.sh BUILD_DIR}
src=$(pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
P=$tmp/prefix
fail() {
    echo "install_test: $*" >&2
    exit 1
}

# The README quotes the example exactly: the first ```c block after its file name.
awk '/tests\/install\/train5.c/ {found = 1} found && /^```c$/ {inside = 1; next}
     inside && /^```$/ {exit} inside {print}' "$src/README.md" >"$tmp/readme.c"
cmp -s "$tmp/readme.c" "$src/tests/install/train5.c" ||
    fail "README.md's example differs from tests/install/train5.c: $(diff "$tmp/readme.c" "$src/tests/install/train5.c" | head -5)"

cmake --install "$build" --prefix "$P" >"$tmp/install.log" 2>&1 || { cat "$tmp/install.log"; fail "cmake --install failed"; }
pc=$(find "$P" -name laperm.pc)
[ -n "$pc" ] || fail "no laperm.pc installed"
libdir=$(dirname "$(dirname "$pc")")
for f in bin/laperm include/laperm/laperm.h include/laperm/layer_kinds.def \
    share/laperm/models/lenet300.ini share/laperm/models/conv7.ini \
    share/man/man1/laperm.1 share/bash-completion/completions/laperm; do
    [ -f "$P/$f" ] || fail "$f was not installed"
done
for f in liblaperm.a liblaperm.so cmake/laperm/laperm-config.cmake \
    cmake/laperm/laperm-config-version.cmake cmake/laperm/laperm-targets.cmake; do
    [ -e "$libdir/$f" ] || fail "$libdir/$f was not installed"
done
soname=$(objdump -p "$libdir/liblaperm.so" | awk '/SONAME/ {print $2}')
case "$soname" in liblaperm.so.[0-9]*) ;; *) fail "liblaperm.so has SONAME '$soname'" ;; esac
[ -e "$libdir/$soname" ] || fail "$libdir/$soname (the SONAME) was not installed"
echo "installed: $(cd "$P" && find . -type f | sort | tr '\n' ' ')"

mkdir "$tmp/example"
cp "$src/tests/install/train5.c" "$src/tests/install/CMakeLists.txt" "$tmp/example/"
cd "$tmp" # the source tree is out of reach from here on

check_run() { # NAME PROGRAM: it trains 5 steps
    out=$("$2" 2>&1) || fail "$1: exit $?: $out"
    case "$out" in "trained 5 steps "*) echo "$1: $out" ;; *) fail "$1: printed '$out'" ;; esac
}

if command -v pkg-config >/dev/null; then
    export PKG_CONFIG_PATH="$libdir/pkgconfig"
    flags=$(pkg-config --cflags --libs laperm) || fail "pkg-config --cflags --libs laperm failed"
    echo "pkg-config --cflags --libs laperm: $flags"
    # shellcheck disable=SC2086
    cc -std=c11 -Wall -Wextra -Werror example/train5.c -o train5-pc $flags -Wl,-rpath,"$libdir" ||
        fail "the example does not build with pkg-config's flags"
    check_run "pkg-config (liblaperm.so)" ./train5-pc
    ldd ./train5-pc | grep -q "$libdir/$soname" || fail "train5-pc does not use the installed $soname"
    static=$(pkg-config --static --libs laperm) || fail "pkg-config --static failed"
    echo "pkg-config --static --libs laperm: $static"
    # shellcheck disable=SC2046,SC2086
    cc -std=c11 -Wall -Wextra -Werror example/train5.c -o train5-static $(pkg-config --cflags laperm) \
        $(echo "$static" | sed 's/-llaperm\b/-l:liblaperm.a/') ||
        fail "the example does not build with liblaperm.a and pkg-config --static's flags"
    check_run "pkg-config --static (liblaperm.a)" ./train5-static
    if ldd ./train5-static | grep -q liblaperm; then fail "train5-static links liblaperm.so"; fi
else
    echo "install_test: no pkg-config: its builds skipped"
fi

cmake -S example -B example-build -DCMAKE_PREFIX_PATH="$P" >cmake.log 2>&1 || { cat cmake.log; fail "find_package(laperm) failed"; }
cmake --build example-build >>cmake.log 2>&1 || { cat cmake.log; fail "the example does not build with find_package(laperm)"; }
check_run "find_package(laperm)" ./example-build/train5

# The installed program: a model by name from its own share/laperm/models (a copy that
# exists nowhere else), kernels embedded (it trains with no cl/ folder in reach).
cp "$P/share/laperm/models/logreg.ini" "$P/share/laperm/models/installed-only.ini"
"$P/bin/laperm" summary installed-only | grep -q "total params: 7,840" ||
    fail "laperm summary installed-only: not found in $P/share/laperm/models"
grep -q '^\.SH "LAPERM TRAIN"' "$P/share/man/man1/laperm.1" || fail "the man page has no train section"
for cmd in $("$P/bin/laperm" --help | awk '/^commands:/ {on = 1; next} on && NF {print $1} on && !NF {exit}'); do
    [ "$cmd" = version ] || grep -q "^\\.SH \"LAPERM $(echo "$cmd" | tr a-z A-Z)\"" "$P/share/man/man1/laperm.1" ||
        fail "the man page has no section for laperm $cmd"
done
grep -q 'epochs' "$P/share/man/man1/laperm.1" || fail "the man page lacks --epochs"
got=$(bash -c ". '$P/share/bash-completion/completions/laperm'; COMP_WORDS=('$P/bin/laperm' train --epo); COMP_CWORD=2; _laperm; echo \"\${COMPREPLY[*]}\"")
[ "$got" = "--epochs" ] || fail "bash completion of 'laperm train --epo' gave '$got'"
got=$(bash -c ". '$P/share/bash-completion/completions/laperm'; COMP_WORDS=('$P/bin/laperm' summary installed-o); COMP_CWORD=2; _laperm; echo \"\${COMPREPLY[*]}\"")
[ "$got" = "installed-only" ] || fail "bash completion of 'laperm summary installed-o' gave '$got'"
# bash splits --flag=value at the '=': the value completes as after --flag value
got=$(bash -c ". '$P/share/bash-completion/completions/laperm'; COMP_WORDS=('$P/bin/laperm' train --optimizer = l); COMP_CWORD=4; _laperm; echo \"\${COMPREPLY[*]}\"")
[ "$got" = "laperm lookahead" ] || fail "bash completion of 'laperm train --optimizer=l' gave '$got'"
got=$(bash -c ". '$P/share/bash-completion/completions/laperm'; COMP_WORDS=('$P/bin/laperm' train --progress =); COMP_CWORD=3; _laperm; echo \"\${COMPREPLY[*]}\"")
[ "$got" = "auto bar plain none" ] || fail "bash completion of 'laperm train --progress=' gave '$got'"
echo "install_test: ok"
