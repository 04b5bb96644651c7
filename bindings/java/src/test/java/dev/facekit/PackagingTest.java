package dev.facekit;

import static dev.facekit.FacekitTest.check;
import static dev.facekit.FacekitTest.test;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * The jar (build_jar.sh, NativeLib): natives extracted from it, its manifest version, and the message on a
 * platform it has no natives for (a second JVM with -Dos.arch overridden, which JDK 17 honours).
 *
 * <p>Properties: facekit.test.expectJarNatives=true (run_tests.sh: the tests run with only the jar on the class
 * path, so the natives must come from it), facekit.cargoToml (the repo's Cargo.toml: the version's source).
 */
final class PackagingTest {
    private PackagingTest() {}

    static final boolean EXPECT_JAR = Boolean.getBoolean("facekit.test.expectJarNatives");

    /** The [package] version of Cargo.toml (-Dfacekit.cargoToml), or null when not given. */
    static String cargoVersion() throws IOException {
        String p = System.getProperty("facekit.cargoToml");
        if (p == null) return null;
        boolean inPackage = false;
        for (String line : Files.readAllLines(Paths.get(p))) {
            String t = line.trim();
            if (t.startsWith("[")) inPackage = t.equals("[package]");
            else if (inPackage && t.matches("version\\s*=\\s*\".*\".*")) return t.replaceAll("^[^\"]*\"([^\"]*)\".*$", "$1");
        }
        throw new IOException("no [package] version in " + p);
    }

    static void run() {
        test("jar: natives extracted from the jar", () -> {
            String source = NativeLib.source();
            System.out.println("     [native] " + source);
            if (!EXPECT_JAR) {
                System.out.println("     (not run from the jar: facekit.test.expectJarNatives is not set)");
                return;
            }
            String jar = "facekit-" + cargoVersion() + ".jar!/dev/facekit/native/" + NativeLib.platform() + "/";
            check(source != null && source.startsWith("extracted from jar:file:") && source.contains(jar),
                    "source " + source + ", expected " + jar);
            List<String> files = NativeLib.loadedFiles();
            check(files.size() == 2, "loaded " + files);
            Path dir = Paths.get(files.get(0)).getParent();
            Path tmp = Paths.get(System.getProperty("java.io.tmpdir")).toAbsolutePath();
            check(dir.getParent().equals(tmp) && dir.getFileName().toString().startsWith("facekit-native-"),
                    "not an extracted temp dir: " + dir);
            check(files.get(0).equals(dir.resolve("libfacekit.so.0").toString()), "load order " + files);
            check(files.get(1).equals(dir.resolve("libfacekit_jni.so").toString()), "load order " + files);
            // Deleted right after loading, yet mapped: /proc/self/maps marks them "(deleted)".
            check(!Files.exists(dir), "temp dir left behind: " + dir);
            List<String> mapped = new ArrayList<>();
            for (String line : Files.readAllLines(Paths.get("/proc/self/maps"))) {
                int slash = line.indexOf('/');
                if (slash >= 0 && line.contains("libfacekit") && !line.contains("libfacekit_test_support")) {
                    String f = line.substring(slash);
                    if (!mapped.contains(f)) mapped.add(f);
                }
            }
            for (String f : files) check(mapped.contains(f + " (deleted)"), f + " not mapped: " + mapped);
            check(mapped.size() == 2, "other facekit libraries mapped: " + mapped);
        });

        test("jar: manifest version = library = Cargo.toml", () -> {
            String cargo = cargoVersion();
            String lib = Engine.version(), jar = Engine.bindingsVersion();
            System.out.println("     [version] Cargo.toml " + cargo + ", fk_version_string " + lib
                    + ", Implementation-Version " + jar);
            if (cargo != null) check(lib.equals(cargo), "library " + lib + " != Cargo.toml " + cargo);
            if (EXPECT_JAR) check(cargo != null && cargo.equals(jar), "manifest " + jar + " != Cargo.toml " + cargo);
            else if (jar != null) check(jar.equals(lib), "manifest " + jar + " != library " + lib);
            String[] p = lib.split("[.]");
            int packed = Integer.parseInt(p[0]) * 10000 + Integer.parseInt(p[1]) * 100
                    + Integer.parseInt(p[2].replaceAll("[^0-9].*$", ""));
            check(NativeLib.version() == packed, "fk_version " + NativeLib.version() + " vs " + lib);
        });

        test("jar: unsupported architecture -> FacekitException", () -> {
            if (!EXPECT_JAR) {
                System.out.println("     (not run from the jar)");
                return;
            }
            String out = probe("riscv64");
            String[] msg = messages(out);
            String m = msg[0];
            System.out.println("     [message] " + m);
            String dir = "dev/facekit/native/linux-riscv64/";
            check(m.startsWith("FK_ERR_UNSUPPORTED: ") && m.contains("linux-riscv64") && m.contains("os.arch=riscv64")
                    && m.contains(dir + "libfacekit.so.0") && m.contains(dir + "libfacekit_jni.so")
                    && m.contains("linux-x86_64"), m);
            check(msg[1].equals(m) && msg[2].equals(m), "later calls differ: " + out);
        });

        test("jar: arm64 -> linux-aarch64 natives (not loadable here)", () -> {
            if (!EXPECT_JAR || !System.getProperty("os.arch").equals("amd64")) {
                System.out.println("     (not run from the jar on x86-64)");
                return;
            }
            String platforms;
            try (InputStream in = NativeLib.class.getClassLoader().getResourceAsStream(NativeLib.PLATFORMS_INDEX)) {
                platforms = in == null ? "" : new String(in.readAllBytes(), StandardCharsets.UTF_8);
            }
            if (!platforms.contains("linux-aarch64")) {
                System.out.println("     (the jar has no linux-aarch64 natives: " + platforms.trim() + ")");
                return;
            }
            // The resources are found and extracted; an x86-64 JVM then refuses the aarch64 ELF file. The failure
            // is still a FacekitException, and the extracted copies are gone (probe checks its temp dir).
            String m = messages(probe("arm64"))[0];
            System.out.println("     [message] " + m);
            check(m.startsWith("FK_ERR_UNSUPPORTED: ") && m.contains("(linux-aarch64)")
                    && m.contains("UnsatisfiedLinkError") && m.contains("libfacekit.so.0"), m);
        });
    }

    private static String[] messages(String out) {
        String[] msg = new String[3];
        for (String line : out.split("\n")) {
            for (int i = 0; i < 3; i++) {
                if (line.startsWith("MSG" + i + " ")) msg[i] = line.substring(5);
            }
        }
        for (String s : msg) check(s != null, "probe output:\n" + out);
        return msg;
    }

    /** A second JVM on the same class path with os.arch overridden; returns its output (exit 0 required). */
    private static String probe(String arch) throws Exception {
        Path tmp = Files.createTempDirectory("facekit-probe-");
        try {
            String java = Paths.get(System.getProperty("java.home"), "bin", "java").toString();
            ProcessBuilder pb = new ProcessBuilder(java, "-Dos.arch=" + arch, "-Djava.io.tmpdir=" + tmp,
                    "-cp", System.getProperty("java.class.path"), PackagingTest.class.getName());
            pb.redirectErrorStream(true);
            pb.environment().remove("LD_LIBRARY_PATH");
            Process p = pb.start();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            check(p.waitFor(60, TimeUnit.SECONDS), "probe hangs");
            check(p.exitValue() == 0, "probe exit " + p.exitValue() + ":\n" + out);
            check(!out.contains("ExceptionInInitializerError") && !out.contains("NoClassDefFoundError"), out);
            List<Path> left = new ArrayList<>();
            try (Stream<Path> s = Files.list(tmp)) {
                s.forEach(left::add);
            }
            check(left.isEmpty(), "extracted files left behind: " + left);
            return out;
        } finally {
            try (Stream<Path> s = Files.walk(tmp)) {
                for (Path f : (Iterable<Path>) s.sorted(Comparator.reverseOrder())::iterator) Files.deleteIfExists(f);
            }
        }
    }

    /**
     * The probe: three entry points without a handle must each throw a FacekitException (not an
     * ExceptionInInitializerError, then a NoClassDefFoundError); the bindings' version needs no natives.
     */
    public static void main(String[] args) {
        Runnable[] calls = {Engine::version, () -> Image.load("/nonexistent.jpg"), () -> new Engine("/nonexistent")};
        for (int i = 0; i < calls.length; i++) {
            try {
                calls[i].run();
                System.out.println("MSG" + i + " (no exception)");
            } catch (FacekitException e) {
                System.out.println("MSG" + i + " " + e.getMessage());
            }
        }
        System.out.println("bindingsVersion " + Engine.bindingsVersion());
        System.exit(Engine.bindingsVersion() == null ? 1 : 0);
    }
}
