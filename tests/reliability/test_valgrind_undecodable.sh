#!/usr/bin/env bash
# valgrind_cli.sh on a CPU where valgrind cannot decode an instruction that
# runs before main: a stand-in valgrind on PATH writes the log valgrind 3.19
# writes for rdtscp and exits as the killed program does (SIGILL, 132).
#   - in a library outside the project: one SKIPPED line naming the bytes,
#     the function and the library, exit 77 (skipped, never passed);
#   - in the project's own library: a failure (exit 1).
#
#   test_valgrind_undecodable.sh VALGRIND_CLI_SH PHOTO
set -euo pipefail
script="$1" photo="$2"
work="$(mktemp -d "${TMPDIR:-/tmp}/cutout-valgrind-probe.XXXXXX")"
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/bin" "$work/models"
printf '#!/bin/sh\nexit 0\n' >"$work/program"
chmod +x "$work/program"

# Writes a stand-in valgrind whose --tool=none run fails in `object`.
stand_in() {
  cat >"$work/bin/valgrind" <<FAKE
#!/usr/bin/env bash
if [ "\${1:-}" = "--version" ]; then echo valgrind-3.19.0; exit 0; fi
for arg in "\$@"; do
  case "\$arg" in --log-file=*) log="\${arg#--log-file=}" ;; esac
done
cat >"\$log" <<'LOG'
==41== Nulgrind, the minimal Valgrind tool
vex amd64->IR: unhandled instruction bytes: 0xF 0x1 0xF9 0x89 0x45 0xD4 0x48 0x8B
vex amd64->IR:   REX=0 REX.W=0 REX.R=0 REX.X=0 REX.B=0
==41== valgrind: Unrecognised instruction at address 0x5a1c2b3.
==41==    at 0x5A1C2B3: $1
==41==    by 0x4005F2D: call_init (dl-init.c:74)
==41== Your program just tried to execute an instruction that Valgrind
==41== did not recognise.
LOG
exit 132
FAKE
  chmod +x "$work/bin/valgrind"
}

failed=0
stand_in 'hwy::platform::TimerResolution() (in /usr/lib/x86_64-linux-gnu/libhwy.so.1.0.3)'
set +e
out="$(PATH="$work/bin:$PATH" "$script" "$work/program" "$work/models" m "$photo" 2>&1)"
status=$?
set -e
if [ "$status" -ne 77 ] || ! grep -q '^valgrind_cli: SKIPPED: valgrind-3.19.0 cannot decode instruction bytes 0xF 0x1 0xF9 0x89 .*TimerResolution.*libhwy' <<<"$out" ||
   [ "$(grep -c . <<<"$out")" -ne 1 ]; then
  echo "FAIL outside the project: exit $status, output: $out"
  failed=1
else
  echo "ok   outside the project: $out"
fi

stand_in 'matte_batch_run (in /opt/cutout/lib/libcutout.so)'
set +e
out="$(PATH="$work/bin:$PATH" "$script" "$work/program" "$work/models" m "$photo" 2>&1)"
status=$?
set -e
if [ "$status" -ne 1 ] || ! grep -q 'FAILED: .*project' <<<"$out"; then
  echo "FAIL inside the project: exit $status, output: $out"
  failed=1
else
  echo "ok   inside the project: $out"
fi
exit "$failed"
