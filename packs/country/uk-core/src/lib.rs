//! The United Kingdom's NHS number: ten digits, the last a Modulus 11 check digit (NHS Data
//! Dictionary, "NHS Number"). Every write in an organization that enabled the pack passes its
//! NHS numbers through `check`; a route lets a client check one before sending it.

use serde_json::json;
use tessera_pack_sdk::prelude::*;

/// The NHS number's identifier system (UK Core).
const NHS_NUMBER: &str = "https://fhir.nhs.uk/Id/nhs-number";

fn pack() -> Pack {
    Pack::new()
        .identifier_system(NHS_NUMBER, "NHS number (Modulus 11)", check)
        .route(Route::get("/nhs-number/{value}"), check_route)
}

/// Why `value` is not an NHS number, if it is not. Spaces (as printed, `943 476 5919`) are
/// allowed; anything else but ten digits is not.
pub fn check(value: &str) -> std::result::Result<(), String> {
    let digits: Vec<u32> = value
        .chars()
        .filter(|c| *c != ' ')
        .map(|c| c.to_digit(10).ok_or(c))
        .collect::<std::result::Result<_, char>>()
        .map_err(|c| format!("an NHS number has only digits, not {c:?}"))?;
    if digits.len() != 10 {
        return Err(format!("an NHS number has 10 digits, not {}", digits.len()));
    }
    let sum: u32 = digits[..9]
        .iter()
        .enumerate()
        .map(|(i, d)| d * (10 - i as u32))
        .sum();
    let expected = match 11 - sum % 11 {
        11 => 0,
        10 => return Err("no NHS number has these first nine digits (the check digit would be 10)".into()),
        n => n,
    };
    if digits[9] == expected {
        Ok(())
    } else {
        Err(format!("the check digit is {}, but should be {expected}", digits[9]))
    }
}

/// `GET /nhs-number/{value}`: `{"valid": true}` or `{"valid": false, "reason": ...}`.
fn check_route(request: &Request) -> Result<Response> {
    let value = request.param("value").unwrap_or_default();
    Response::json(&match check(value) {
        Ok(()) => json!({"value": value, "valid": true}),
        Err(reason) => json!({"value": value, "valid": false, "reason": reason}),
    })
}

export_pack!(pack);

#[cfg(test)]
mod tests {
    use super::check;

    #[test]
    fn modulus_11() {
        // Published test numbers.
        for good in ["9434765919", "943 476 5919", "4010232137"] {
            assert_eq!(check(good), Ok(()), "{good}");
        }
        assert!(check("9434765918").unwrap_err().contains("check digit"));
        assert!(check("943476591").unwrap_err().contains("10 digits"));
        assert!(check("94347659A9").unwrap_err().contains("only digits"));
        // 1234567890: the check digit would be 10.
        assert!(check("1234567890").unwrap_err().contains("would be 10"));
    }
}
