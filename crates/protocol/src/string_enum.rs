//! Enums whose values travel as strings (in JSON, in the database, on the command line).
//!
//! `string_enum!` declares such an enum with each variant's string written once, and
//! derives everything else from it: serde (the variant's `rename`), the OpenAPI schema
//! (`openapi` feature), `as_str`, `parse`, `FromStr`, `Display`, `ALL`, and with the
//! `sqlx` feature Postgres `text` encoding and decoding, where a value that names no
//! variant is a decode error naming the value, never a default.

/// A string that names no variant of the enum it was parsed as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownVariant {
    /// The enum's name, e.g. `JobStatus`.
    pub type_name: &'static str,
    pub value: String,
    /// Every accepted string.
    pub expected: &'static [&'static str],
}

impl std::fmt::Display for UnknownVariant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "unknown {} {:?} (expected one of: {})",
            self.type_name,
            self.value,
            self.expected.join(", ")
        )
    }
}

impl std::error::Error for UnknownVariant {}

/// `string_enum! { /// docs  #[derive(Default)]  pub enum Name { /// docs  Variant = "text", ... } }`
///
/// Always derives `Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize` (and
/// `utoipa::ToSchema` with the `openapi` feature); further derives and `#[default]` may
/// be given as usual.
// Each variant's string is matched as `tt`, not `literal`: a `literal` fragment reaches the
// derives wrapped in an invisible group, which serde sees through but utoipa does not (it
// would fall back to the variant's Rust name in the OpenAPI document).
macro_rules! string_enum {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident {
            $( $(#[$vmeta:meta])* $variant:ident = $text:tt ),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
        $vis enum $name {
            $( $(#[$vmeta])* #[serde(rename = $text)] $variant, )+
        }

        impl $name {
            /// Every variant, in declaration order.
            pub const ALL: [$name; [$($text),+].len()] = [$($name::$variant),+];
            const NAMES: &'static [&'static str] = &[$($text),+];

            /// The string form (as in JSON and in the database).
            pub const fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text,)+
                }
            }

            /// The variant named `s`, if any.
            pub fn parse(s: &str) -> Option<Self> {
                match s {
                    $($text => Some($name::$variant),)+
                    _ => None,
                }
            }
        }

        impl std::str::FromStr for $name {
            type Err = $crate::string_enum::UnknownVariant;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::parse(s).ok_or_else(|| $crate::string_enum::UnknownVariant {
                    type_name: stringify!($name),
                    value: s.to_owned(),
                    expected: Self::NAMES,
                })
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        #[cfg(feature = "sqlx")]
        impl sqlx::Type<sqlx::Postgres> for $name {
            fn type_info() -> sqlx::postgres::PgTypeInfo {
                <str as sqlx::Type<sqlx::Postgres>>::type_info()
            }
            fn compatible(ty: &sqlx::postgres::PgTypeInfo) -> bool {
                <str as sqlx::Type<sqlx::Postgres>>::compatible(ty)
            }
        }

        #[cfg(feature = "sqlx")]
        impl sqlx::postgres::PgHasArrayType for $name {
            fn array_type_info() -> sqlx::postgres::PgTypeInfo {
                <&str as sqlx::postgres::PgHasArrayType>::array_type_info()
            }
            fn array_compatible(ty: &sqlx::postgres::PgTypeInfo) -> bool {
                <&str as sqlx::postgres::PgHasArrayType>::array_compatible(ty)
            }
        }

        #[cfg(feature = "sqlx")]
        impl sqlx::Encode<'_, sqlx::Postgres> for $name {
            fn encode_by_ref(
                &self,
                buf: &mut sqlx::postgres::PgArgumentBuffer,
            ) -> Result<sqlx::encode::IsNull, sqlx::error::BoxDynError> {
                <&str as sqlx::Encode<sqlx::Postgres>>::encode(self.as_str(), buf)
            }
        }

        #[cfg(feature = "sqlx")]
        impl<'r> sqlx::Decode<'r, sqlx::Postgres> for $name {
            fn decode(value: sqlx::postgres::PgValueRef<'r>) -> Result<Self, sqlx::error::BoxDynError> {
                let s = <&str as sqlx::Decode<sqlx::Postgres>>::decode(value)?;
                Ok(s.parse::<Self>()?)
            }
        }
    };
}

#[cfg(test)]
mod tests {
    string_enum! {
        /// For the tests.
        #[derive(Default)]
        enum Sample {
            One = "one",
            /// The default.
            #[default]
            TwoWords = "two_words",
            Kebab = "kebab-case",
        }
    }

    #[test]
    fn every_form_agrees() {
        assert_eq!(Sample::ALL, [Sample::One, Sample::TwoWords, Sample::Kebab]);
        for v in Sample::ALL {
            let json = serde_json::to_value(v).unwrap();
            assert_eq!(json, serde_json::json!(v.as_str()));
            assert_eq!(serde_json::from_value::<Sample>(json).unwrap(), v);
            assert_eq!(v.to_string(), v.as_str());
            assert_eq!(Sample::parse(v.as_str()), Some(v));
            assert_eq!(v.as_str().parse::<Sample>(), Ok(v));
        }
        assert_eq!(Sample::default(), Sample::TwoWords);
    }

    #[test]
    fn an_unknown_string_is_an_error_naming_it() {
        assert_eq!(Sample::parse("One"), None);
        let e = "bogus".parse::<Sample>().unwrap_err();
        assert_eq!(
            e.to_string(),
            r#"unknown Sample "bogus" (expected one of: one, two_words, kebab-case)"#
        );
        assert!(serde_json::from_value::<Sample>(serde_json::json!("bogus")).is_err());
    }
}
