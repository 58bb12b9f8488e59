"""The command line: shared options given before or after a subcommand mean the same, the suite
is the default subcommand, --version, a failed build's own exit status, any current directory."""
import os
import re
import tempfile
import unittest

from runbench import cli
from runbench.errors import UsageError
from runbench.tests.support import CommandTestCase, build_dir, run_bench, write_trace


def parsed(*argv):
    parser = cli.build_parser()
    return cli.finish(parser, parser.parse_args(argv))


class ParsingTest(unittest.TestCase):
    def test_no_subcommand_is_the_suite_with_its_defaults(self):
        args = parsed()
        self.assertEqual((args.subcommand, args.quick, args.out), ("suite", False, None))
        self.assertEqual(args.allocators, list(cli.allocator_names.DEFAULT_ALLOCATORS))
        self.assertEqual(parsed("--quick").quick, True)

    def test_shared_option_before_or_after_the_subcommand_is_kept(self):
        for argv in (("--quick", "check"), ("check", "--quick")):  # check runs its quick rounds on args.quick
            with self.subTest(argv=argv):
                args = parsed(*argv)
                self.assertEqual((args.quick, args.repetitions), (True, None))
        self.assertEqual(parsed("--out", "X", "plot", "R").out, "X")
        self.assertEqual(parsed("--repetitions", "5", "check").repetitions, 5)
        # stress has its own defaults, and they must not replace what was given before it
        self.assertEqual(parsed("stress").threads, cli.STRESS_THREADS)
        self.assertEqual(parsed("--threads", "1,4", "--timeout", "7", "stress").threads, [1, 4])
        self.assertEqual(parsed("--timeout", "7", "stress").timeout, 7)

    def test_shared_option_of_another_subcommand_is_refused(self):
        with self.assertRaisesRegex(UsageError, "--threads does not apply to 'check'"):
            parsed("--threads", "1", "check")
        with self.assertRaisesRegex(UsageError, "--allocators does not apply to 'plot'"):
            parsed("--allocators", "system", "plot", "R")

    def test_record_takes_the_build_options_and_searches_when_not_building(self):
        args = parsed("record", "--no-build", "-o", "t.trace", "--", "sort", "-n", "f")
        self.assertEqual((args.no_build, args.build_dir, args.command), (True, None, ["--", "sort", "-n", "f"]))


class CommandTest(CommandTestCase):
    def setUp(self):
        self.scratch = tempfile.TemporaryDirectory()
        self.addCleanup(self.scratch.cleanup)

    def path(self, name):
        return os.path.join(self.scratch.name, name)

    def test_version_names_project_version_and_commit_from_any_folder(self):
        proc = run_bench("--version", cwd=self.scratch.name)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertRegex(proc.stdout, r"^mem_io \d+\.\d+(\.\d+)*, commit ([0-9a-f]{12}|not a git checkout)")

    def test_bad_option_placement_is_bad_usage(self):
        proc = run_bench("--threads", "1", "check")
        self.assertCleanError(proc, "--threads does not apply to 'check'")
        self.assertEqual(proc.returncode, 2)

    def failing_cmake(self):
        """An environment whose cmake notes that it ran, then fails as a broken build does."""
        fake_bin = self.path("bin")
        os.mkdir(fake_bin)
        with open(os.path.join(fake_bin, "cmake"), "w", encoding="utf-8") as script:
            script.write(f"#!/bin/sh\ntouch {self.path('cmake-ran')}\necho fake cmake fails >&2\nexit 2\n")
        os.chmod(os.path.join(fake_bin, "cmake"), 0o755)
        return dict(os.environ, PATH=fake_bin + os.pathsep + os.environ["PATH"])

    def test_failed_build_has_its_own_exit_status(self):
        proc = run_bench("--build-dir", self.path("build"), "--out", self.path("out"), env=self.failing_cmake())
        self.assertCleanError(proc, "build step failed", "fake cmake fails")
        self.assertEqual(proc.returncode, 3)

    def test_unwritable_out_is_refused_before_building(self):
        """Tests run as root, who may write anywhere: a path under a file and one in /proc cannot be made."""
        open(self.path("file"), "w").close()
        env = self.failing_cmake()
        for out, reason in ((self.path("file/out"), "Not a directory"), ("/proc/mem_io_out", "No such file")):
            build = ("--build-dir", self.path("build"))
            for argv in ((*build, "--out", out), ("--out", out, "check", *build), ("plot", "r.json", "--out", out)):
                with self.subTest(argv=argv):
                    proc = run_bench(*argv, env=env)
                    self.assertCleanError(proc, f"--out {out} cannot be written: {reason}")
                    self.assertEqual(proc.returncode, 2)
                    self.assertFalse(os.path.exists(self.path("cmake-ran")), "the build must not start")

    def test_out_check_leaves_no_folder_behind(self):
        proc = run_bench("--no-build", "--build-dir", self.path("no-build"), "--out", self.path("a/b/c"))
        self.assertCleanError(proc, "harness binary")
        self.assertFalse(os.path.exists(self.path("a")))

    def test_suite_writes_a_relative_out_under_the_current_folder(self):
        trace = write_trace(self.path("tiny.trace"), blocks=500, live=50)
        proc = run_bench("--no-build", "--build-dir", build_dir(), "--quick", "--allocators", "system",
                         "--workloads", trace, "--repetitions", "1", "--out", "relative", cwd=self.scratch.name)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertTrue(os.path.isfile(self.path(os.path.join("relative", "results.json"))))
        self.assertTrue(re.search(r"results: relative/results.json", proc.stderr), proc.stderr)


if __name__ == "__main__":
    unittest.main()
