//! `eid --help` lists the subcommands grouped by who uses them.

use clap::Command;

/// (heading, subcommands). Every subcommand is in exactly one group (a test checks it).
const GROUPS: &[(&str, &[&str])] = &[
    ("The platform on this machine", &["up", "demo", "bench"]),
    (
        "Authority: population registry, issuance, lifecycle",
        &["authority", "registry", "status-list"],
    ),
    (
        "Credentials: formats, issuer PKI and keys",
        &["credential", "pki", "keys"],
    ),
    ("Trust: the national trust list", &["trust"]),
    (
        "Holder: the wallet and its provider",
        &["wallet", "provider"],
    ),
    ("Relying party: verification", &["verify", "verifier"]),
    ("Reference data and tools", &["region", "id-number"]),
];

/// `command` with a help text whose subcommand list is grouped by role.
pub fn grouped(command: Command) -> Command {
    let mut listing = String::new();
    for (heading, names) in GROUPS {
        listing.push_str(&format!("{heading}:\n"));
        for name in *names {
            let about = command
                .find_subcommand(name)
                .and_then(|c| c.get_about())
                .map(|a| a.to_string())
                .unwrap_or_default();
            listing.push_str(&format!("  {name:<12}{about}\n"));
        }
        listing.push('\n');
    }
    let template = format!(
        "{{about-with-newline}}\n{{usage-heading}} {{usage}}\n\n{listing}\
         Options:\n{{options}}\n\nRun `eid COMMAND --help` for a command's own options."
    );
    command
        .help_template(template)
        .disable_help_subcommand(true)
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn every_subcommand_is_in_exactly_one_group() {
        let command = crate::Cli::command();
        for sub in command.get_subcommands() {
            let homes = GROUPS
                .iter()
                .filter(|(_, names)| names.contains(&sub.get_name()))
                .count();
            assert_eq!(homes, 1, "{} is in {homes} groups", sub.get_name());
        }
        for (_, names) in GROUPS {
            for name in *names {
                assert!(
                    command.find_subcommand(name).is_some(),
                    "{name} is not a subcommand"
                );
            }
        }
    }

    #[test]
    fn help_renders_groups() {
        let help = grouped(crate::Cli::command()).render_help().to_string();
        assert!(help.contains("Authority: population registry"), "{help}");
        assert!(help.contains("  registry    Generate and check"), "{help}");
        crate::Cli::command().debug_assert();
    }
}
