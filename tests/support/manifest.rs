//! Reading the Kubernetes manifests in `examples/kubernetes/` as a test
//! needs them: the environment they set, and a key's first value.

/// The `- name:` / `value:` pairs of a Kubernetes manifest's `env` list.
pub fn manifest_env(yaml: &str) -> Vec<(String, String)> {
    let mut env = Vec::new();
    let mut name = None;
    for line in yaml.lines().map(str::trim) {
        if let Some(n) = line.strip_prefix("- name: ") {
            name = Some(n.to_owned());
        } else if let (Some(n), Some(v)) = (name.take(), line.strip_prefix("value: ")) {
            env.push((n, v.trim_matches('"').to_owned()));
        }
    }
    env
}

/// The value of the first `key:` in a manifest.
pub fn manifest_value<'a>(yaml: &'a str, key: &str) -> &'a str {
    yaml.lines()
        .find_map(|line| line.trim().strip_prefix(&format!("{key}:")))
        .map(str::trim)
        .unwrap_or_else(|| panic!("no {key} in the manifest"))
}
