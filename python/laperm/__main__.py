"""`python3 -m laperm COMMAND ...`: the subcommands, one table. Each entry names the
module and function that runs it, imported only when that command runs, so a command
whose optional dependency (matplotlib for `plot`) is missing does not break the others."""
import difflib
import importlib
import sys

# name -> ("module:function", one line of help); the function takes the arguments after
# the command and returns the exit status.
COMMANDS = {
    "evaluate": ("laperm.evaluation:main", "evaluate a results file's network on its test "
                 "data (numpy, or --torch)"),
    "info": ("laperm.info:main", "a short summary of a run: settings, snapshots, best"),
    "check": ("laperm.invariant:check_main", "check the LaPerm invariant of results files "
              "(as scripts/check-invariant)"),
    "plot": ("laperm.plot:main", "write PNG figures of runs (matplotlib)"),
}

USAGE = "usage: python3 -m laperm COMMAND [ARGS...]   (COMMAND --help for its options)"


def usage(out):
    print(USAGE + "\n\ncommands:", file=out)
    for name, (_, text) in COMMANDS.items():
        print("  %-9s %s" % (name, text), file=out)


def main(argv):
    if not argv or argv[0] in ("-h", "--help", "help"):
        usage(sys.stdout if argv else sys.stderr)
        return 0 if argv else 2
    name = argv[0]
    if name not in COMMANDS:
        near = difflib.get_close_matches(name, COMMANDS, n=1, cutoff=0.6)
        print("laperm: unknown command '%s'%s" % (name, ": did you mean %s?" % near[0]
                                                   if near else ""), file=sys.stderr)
        usage(sys.stderr)
        return 2
    module, func = COMMANDS[name][0].split(":")
    try:
        mod = importlib.import_module(module)
    except ModuleNotFoundError as e:
        if e.name != module:
            raise
        print("laperm %s: this checkout has no %s (python/%s.py): the command is not "
              "available here" % (name, module, module.replace(".", "/")), file=sys.stderr)
        return 2
    return getattr(mod, func)(argv[1:])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
