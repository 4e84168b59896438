//! India's ABHA number (Ayushman Bharat Health Account, issued by the National Health
//! Authority under ABDM): 14 digits, usually written in groups of 2-4-4-4. ABDM publishes no
//! check digit, so the check is of the number's shape; whether a number exists is ABDM's to
//! say (an integration would ask its gateway). The pack also ships Hindi texts
//! (`locales/hi.yaml`) for the obstetrics pack's forms.

use tessera_pack_sdk::prelude::*;

/// The ABHA number's identifier systems: ABDM's current one and the NDHM implementation
/// guide's earlier one.
const ABHA_SYSTEMS: [&str; 2] = ["https://healthid.abdm.gov.in", "https://healthid.ndhm.gov.in"];

fn pack() -> Pack {
    ABHA_SYSTEMS.iter().fold(Pack::new(), |pack, system| {
        pack.identifier_system(*system, "ABHA number (14 digits)", check)
    })
}

/// Why `value` is not an ABHA number, if it is not.
pub fn check(value: &str) -> std::result::Result<(), String> {
    let groups: Vec<&str> = value.split('-').collect();
    let grouped = match groups.as_slice() {
        [whole] => whole.len() == 14,
        [a, b, c, d] => a.len() == 2 && b.len() == 4 && c.len() == 4 && d.len() == 4,
        _ => false,
    };
    if let Some(c) = value.chars().find(|c| !c.is_ascii_digit() && *c != '-') {
        return Err(format!("an ABHA number has only digits (and dashes), not {c:?}"));
    }
    if !grouped {
        return Err(
            "an ABHA number is 14 digits, written 91-1234-5678-9012 or 91123456789012".into(),
        );
    }
    Ok(())
}

export_pack!(pack);

#[cfg(test)]
mod tests {
    use super::check;

    #[test]
    fn shapes() {
        assert_eq!(check("91-1234-5678-9012"), Ok(()));
        assert_eq!(check("91123456789012"), Ok(()));
        assert!(check("91-1234-5678-901").is_err());
        assert!(check("9112345678901").is_err());
        assert!(check("911-234-5678-9012").is_err());
        assert!(check("91-1234-5678-90I2").unwrap_err().contains("only digits"));
    }
}
