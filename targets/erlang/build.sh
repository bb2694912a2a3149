#!/bin/sh
# The build of target.yaml and of the Dockerfile's build stage.
#
# 1. Compiles src/*.erl into $OUT/ebin.
# 2. Copies the Erlang runtime that Debian's packages installed on this
#    machine (ERTS and the applications the server's code calls: kernel,
#    stdlib, mochiweb, jiffy, plus inets for MochiWeb's httpd_util date and
#    reason-phrase helpers and xmerl, which jiffy's UTF-8 fallback calls)
#    into $OUT/otp, with a launcher $OUT/otp/bin/erl that runs that copy
#    (ssl and crypto are left out: no TLS). $OUT is then self-contained,
#    which the harness's docker runtime needs (its offline image carries
#    $OUT and this folder only, not /usr/lib/erlang). The runtime files are
#    byte-for-byte the packages' own; only the launcher is new, because
#    Debian's erl script hard-codes ROOTDIR=/usr/lib/erlang.
set -eu
: "${OUT:?OUT must be set (the harness sets it)}"

erl_eval() { ERL_CRASH_DUMP_SECONDS=0 erl -noshell -eval "$1"; }

root=$(erl_eval 'io:format("~s", [code:root_dir()]), halt().')
erts="erts-$(erl_eval 'io:format("~s", [erlang:system_info(version)]), halt().')"

rm -rf "$OUT/ebin" "$OUT/otp"
mkdir -p "$OUT/ebin" "$OUT/otp/lib"

erlc +warnings_as_errors -o "$OUT/ebin" src/*.erl

cp -a "$root/bin" "$root/$erts" "$root/releases" "$OUT/otp/"
for app in kernel stdlib inets xmerl mochiweb jiffy; do
    dir=$(erl_eval "case code:lib_dir($app) of {error, _} -> halt(1); D -> io:format(\"~s\", [D]), halt() end.") || {
        echo "build.sh: OTP application $app is not installed (apt-get install -y erlang-mochiweb erlang-jiffy)" >&2
        exit 1
    }
    cp -a "$dir" "$OUT/otp/lib/"
done

# The launcher: upstream OTP's erl script without Debian's fixed ROOTDIR.
cat > "$OUT/otp/bin/erl" <<EOF
#!/bin/sh
ROOTDIR=\$(cd "\$(dirname "\$0")/.." && pwd -P)
BINDIR="\$ROOTDIR/$erts/bin"
EMU=beam
PROGNAME=erl
export EMU ROOTDIR BINDIR PROGNAME
exec "\$BINDIR/erlexec" "\$@"
EOF
chmod 755 "$OUT/otp/bin/erl"
